import sys

from mozparallel.cli import main

sys.exit(main())
