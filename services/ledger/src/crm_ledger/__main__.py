from crm_ledger.app import service

service.run()
