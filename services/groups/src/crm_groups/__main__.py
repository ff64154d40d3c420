from crm_groups.app import service

service.run()
