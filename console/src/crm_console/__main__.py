from crm_console.app import main

main()
