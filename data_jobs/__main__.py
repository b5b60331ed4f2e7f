from data_jobs.cli import main

raise SystemExit(main())
