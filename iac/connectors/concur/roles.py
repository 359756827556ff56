"""The roles the Concur connector syncs: base Concur products and Concur Spend role codes.

* **Base Concur products** are the Identity v4.1 ``entitlements`` enum (the features enabled for a user).
* **Spend roles** are the ``roleName`` enum of the Spend v4.1 role extension, with the full names and the
  *group-aware* flag of Concur's "Spend Role Codes" page (a group-aware role is assigned for one or more
  groups; ``""`` is the global group). Codes in the enum but not on that page are not group-aware here.

Role resource ids are ``concur:<product>`` and ``spend:<role code>``; values are kept verbatim so an id
round-trips to the value Concur expects.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["CONCUR_PRODUCTS", "SPEND_ROLES", "RoleInfo", "all_roles", "role_info"]

CONCUR_PRODUCTS: tuple[str, ...] = ("Expense", "Invoice", "Locate", "Request", "Travel", "Analytics",
                                    "Unified Analytics")


@dataclass(frozen=True, slots=True)
class RoleInfo:
    kind: str  # "concur" (base product) or "spend"
    code: str
    name: str
    group_aware: bool = False

    @property
    def resource_id(self) -> str:
        return f"{self.kind}:{self.code}"


_G = True  # group-aware
_SPEND: tuple[tuple[str, str, bool], ...] = (
    # Expense
    ("EXP_USER", "Expense User", False),
    ("EXP_APPROVER", "Expense Approver", False),
    ("EXP_PROXY_USER", "Expense Proxy Logon", _G),
    ("EXP_PROCESSOR", "Expense Processor", _G),
    ("EXP_PROCESSOR_AUDIT", "Expense Processor (Audit)", _G),
    ("EXP_PROCESSOR_ADMIN", "Expense Processor Manager", _G),
    ("EXP_PROCESSOR_CR", "Central Reconciliation Processor", _G),
    ("EXP_CONFIG_ADMIN", "Expense Configuration Administrator", _G),
    ("EXP_CONFIG_ADMIN_CLIENT", "Client Expense Administrator", _G),
    ("EXP_CONFIG_ADMIN_RO", "Expense Configuration Administrator (Restricted)", _G),
    ("EXP_EMPLOYEE_ADMIN", "Employee Admin Permission on Expense Hierarchy", _G),
    ("EXP_EXPENSETYPE_ADMIN", "Expense Type Administrator", False),
    ("EXP_ACCOUNTCODE_ADMIN", "Account Code Administrator", False),
    ("EXP_CARD_ADMIN", "Expense Company Card Administrator", _G),
    ("EXP_CASHADVANCE_ADMIN", "Expense Cash Advance Administrator", _G),
    ("EXP_EXTRACT_ADMIN", "Extract Administrator", False),
    ("EXP_ATTENDEE_ADMIN", "Attendee Administrator", _G),
    ("EXP_ATTENDEE_ADMIN_RO", "Attendee Administrator (Read only)", _G),
    ("EXP_CONCUR_AUDITOR", "Expense Processor (Concur Audit)", False),
    ("EXP_REIMBURSEMENT_AUDITOR", "Reimbursement Auditor", False),
    ("EXP_REIMBURSEMENT_APPROVER", "Reimbursement Manager", _G),
    ("EXP_FIND_ATTENDEES_USER", "Employee (while finding attendees)", False),
    ("EXP_PCARD_ADMIN", "Card Program Administrator", _G),
    ("EXP_RECEIPT_PROCESSOR", "Expense Receipt Processor", False),
    ("EXP_AUTH_REQUEST_ADMIN", "Authorization Request Administrator", _G),
    ("EXP_AUTH_REQUEST_APPROVER", "Authorization Request Approver", False),
    ("EXP_FB_TAX_ADMIN", "Fringe Benefits Tax Administrator", False),
    ("EXP_TRAVEL_AND_EXPENSE_USER", "Travel and Expense User", False),
    ("STATEMENT_USER", "Company Bill Statement User", False),
    ("STATEMENT_APPROVER", "Company Bill Statement Approver", False),
    ("STATEMENT_PROCESSOR", "Company Bill Statement Processor", _G),
    ("STATEMENT_PROCESSOR_AUDITOR", "Company Bill Statement Processor (Audit)", False),
    ("STATEMENT_PROCESSOR_ADMIN", "Company Bill Statement Processor Manager", _G),
    ("TRAVEL_USER", "Cliqbook User", False),
    # Invoice (Payment)
    ("INV_FULL_USER", "Invoice Full User", False),
    ("INV_PILOT_USER", "Invoice Pilot User", False),
    ("INV_PMT_USER", "Invoice User", False),
    ("INV_APPROVER", "Invoice Approver", False),
    ("INV_AP_USER", "Invoice AP User", _G),
    ("INV_PURCH_RECEIVER", "Central Receiver", _G),
    ("INV_EMPLOYEE_ADMIN", "Employee Admin Permission on Invoice Hierarchy", _G),
    ("INV_IMAGE_PROCESSOR", "Invoice Image Processor", False),
    ("INV_RECEIPT_PROCESSOR", "Invoice (Payment) Receipt Processor", _G),
    ("INV_PMT_MANAGER", "Invoice Payment Manager", False),
    ("INV_PURCH_USER", "Invoice Purchasing User", False),
    ("INV_PROCESSOR", "Invoice (Payment) Processor", _G),
    ("INV_PROCESSOR_AUDIT", "Invoice (Payment) Processor (Audit)", _G),
    ("INV_PROCESSOR_MANAGER", "Invoice (Payment) Processor Manager", _G),
    ("INV_CONFIG_ADMIN", "Invoice (Payment) Configuration Administrator", _G),
    ("INV_CONFIG_ADMIN_RO", "Invoice (Payment) Configuration Administrator (Restricted)", _G),
    ("INV_IC_VERIFIER", "Client Managed Capture Verifier", False),
    ("INV_PROXY_USER", "Invoice (Payment) Proxy Logon", _G),
    ("INV_TAX_ADMIN", "Invoice Tax Administrator", False),
    ("INV_VENDOR_ADMIN", "Invoice Vendor Manager", _G),
    ("INV_PURCH_ORDER_PROCESSOR", "Purchase Order Processor", _G),
    ("INV_PURCH_ORDER_PROCESSOR_AUDIT", "Purchase Order Processor (Audit)", _G),
    ("INV_PURCH_REQ_APPROVER", "Purchase Request Approver", False),
    ("INV_PURCH_REQ_PROCESSOR", "Purchase Request Processor", _G),
    ("INV_PURCH_REQ_PROCESSOR_AUDIT", "Purchase Request Processor (Audit)", _G),
    ("INV_PURCH_REQ_USER", "Purchase Request User", False),
    ("INV_PURCH_REQ_PROXY_USER", "Purchase Request Proxy Logon", _G),
    ("INV_RECEIPT_USER", "Receipt User", False),
    # Request
    ("REQ_USER", "Request User", False),
    ("REQ_APPROVER", "Request Approver", False),
    ("REQ_PROCESSOR", "TMC Agent", _G),
    ("REQ_PROCESSOR_ADMIN", "Request Administrator", _G),
    ("REQ_PROCESSOR_AUDIT", "Request Auditor", _G),
    ("REQ_PROXY_USER", "Request Proxy Logon", _G),
    ("REQ_CONFIG_ADMIN", "Request Configuration Administrator", _G),
    ("REQ_CONFIG_ADMIN_RO", "Request Configuration Administrator (Restricted)", _G),
    ("REQ_EVENT_ADMIN", "Request Event Manager", False),
    ("REQ_RISK_ADMIN", "Risk Manager", _G),
    # Reporting
    ("BUDGET_REPORTING_USER", "Budget Role for Cognos", _G),
    ("REPORTING_CONFIG_ADMIN", "Consolidation Configuration Administrator", False),
    ("REPORTING_HIST_DATA_USER", "Cognos Hist Data Access", False),
    ("REPORTING_DASHBOARD_USER", "Dashboard User (retired)", False),
    ("REPORTING_EMPLOYEE_ADMIN", "Employee Admin Permission on Reporting Hierarchy", _G),
    ("REPORTING_CAS_ANALYST", "CAS Analyst (retired)", _G),
    ("REPORTING_BUSINESS_AUTHOR", "Cognos Business Author", _G),
    ("REPORTING_CONSUMER", "Cognos Consumer", _G),
    ("REPORTING_PRO_AUTHOR", "Cognos Professional Author", _G),
    # Shared
    ("SHD_APP_CENTER_ADMIN", "App Center Listing Administrator", False),
    ("SHD_AUTHORIZED_APPROVER", "Authorized Approver", False),
    ("SHD_BILLING_ATTRIBUTES_USER", "Billing Attributes User", False),
    ("SHD_BUDGET_ADMIN", "Budget Administrator", False),
    ("SHD_BUDGET_APPROVER", "Budget Approver/Manager", False),
    ("SHD_BUDGET_OWNER", "Budget Owner", False),
    ("SHD_BUDGET_VIEWER", "Budget Viewer", False),
    ("SHD_COST_OBJECT_APPROVER", "Cost Object Approver", False),
    ("SHD_DATA_RETENTION_ADMIN", "Data Retention Administrator", False),
    ("SHD_COMPANY_INFO_ADMIN", "Company Info Administrator", False),
    ("SHD_EMPLOYEE_ADMIN", "Employee Administrator", _G),
    ("SHD_EMPLOYEE_ADMIN_RO", "Employee Administrator (Read Only)", False),
    ("SHD_IMPORT_EXTRACT_ADMIN", "Import/Extract Administrator", False),
    ("SHD_IMPORT_EXTRACT_ADMIN_RO", "Import/Extract Monitor", False),
    ("SHD_PASSWORD_ADMIN", "Password Manager", _G),
    ("SHD_ROLE_ADMIN", "Role Administrator", _G),
    ("SHD_ROLE_BUILDER", "Role Builder", False),
    ("SHD_CONFIG_ADMIN", "Shared Configuration Administrator", _G),
    ("SHD_CONFIG_ADMIN_RO", "Shared Configuration Administrator (Restricted)", _G),
    ("SHD_TAX_ADMIN", "Tax Administrator", False),
    ("SHD_TAX_ADMIN_RO", "Tax Administrator (Restricted)", False),
    ("SHD_TRAINING_ADMIN", "Training Administrator", False),
    ("SHD_WEB_SERVICES_ADMIN", "Web Services Administrator", False),
)

SPEND_ROLES: Mapping[str, RoleInfo] = {code: RoleInfo("spend", code, name, aware) for code, name, aware in _SPEND}
_PRODUCTS: Mapping[str, RoleInfo] = {p: RoleInfo("concur", p, f"Concur {p}") for p in CONCUR_PRODUCTS}


def role_info(resource_id: str) -> RoleInfo | None:
    """``spend:EXP_USER`` or ``concur:Expense`` → its catalog entry; None when unknown."""
    kind, _, code = resource_id.partition(":")
    if kind == "spend":
        return SPEND_ROLES.get(code)
    if kind == "concur":
        return _PRODUCTS.get(code)
    return None


def all_roles() -> list[RoleInfo]:
    return [*_PRODUCTS.values(), *SPEND_ROLES.values()]
