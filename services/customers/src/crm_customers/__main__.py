from crm_customers.app import service

service.run()
