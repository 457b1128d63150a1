from trainforge.cli.main import main

raise SystemExit(main())
