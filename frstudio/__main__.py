import sys

from frstudio.cli import main

sys.exit(main())
