from crm_engagement.app import service

service.run()
