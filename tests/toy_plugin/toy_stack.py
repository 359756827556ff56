"""A stack with one connector of the third-party Toy integration (tests/test_plugin.py)."""

from baton_toy.spec import Toy

from iac import Stack, secret

stack = Stack("toys", namespace="toys")
stack.add(Toy("toy", org="acme", api_token=secret.env("TOY_API_TOKEN")))
