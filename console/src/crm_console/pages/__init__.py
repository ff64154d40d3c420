"""The console's pages, one module per area; each holds an APIRouter named `router`."""

from crm_console.pages import api_docs, customers, groups, segments, signin, staff

routers = [signin.router, staff.router, customers.router, groups.router, segments.router, api_docs.router]
