import sys

from podplus.cli import main

sys.exit(main())
