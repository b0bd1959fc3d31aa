from bot.composition.cli import main

raise SystemExit(main())
