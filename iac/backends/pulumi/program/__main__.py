"""The program of the root Pulumi.yaml (``main: iac/backends/pulumi/program``): deploy the stack file that
``pulumi config set iac:stack stacks/<file>.py`` names."""

from iac.backends.pulumi import run_program

run_program()
