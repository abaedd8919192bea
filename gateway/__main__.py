"""python -m gateway build|info|serve ...

  build  compile (or reuse) mod_gateway.so for a Python (see gateway.build)
  info   describe a built module as JSON
  serve  host one WSGI app under Apache with mod_gateway (see gateway.serve)
"""
import sys


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "serve":
        from gateway.serve import main as serve_main
        return serve_main(argv[1:])
    from gateway.build import main as build_main
    return build_main(argv)


if __name__ == "__main__":
    sys.exit(main())
