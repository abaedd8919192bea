"""python -m gateway build|info ... (see gateway.build)."""
import sys

from gateway.build import main

if __name__ == "__main__":
    sys.exit(main())
