from crm_segments.app import service

service.run()
