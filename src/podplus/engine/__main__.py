import sys

from podplus.engine.cli import main

sys.exit(main())
