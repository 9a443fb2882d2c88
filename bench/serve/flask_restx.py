# The part of flask_restx (not packaged in Debian 12) that hashlookup-
# server's bin/server.py uses: Api.route registering a Resource's get/post
# as a Flask view, dicts and (dict, status) returned as JSON as
# flask_restx's output_json does (json.dumps + "\n"). The lookup path
# itself is server.py's, unchanged.
import json

from flask import make_response, request  # noqa: F401


class Resource:
    pass


class reqparse:  # noqa: N801
    pass


class Api:
    def __init__(self, app, **kwargs):
        self.app = app

    def doc(self, *args, **kwargs):
        return lambda f: f

    def response(self, *args, **kwargs):
        return lambda f: f

    def route(self, rule, **kwargs):
        def register(cls):
            resource = cls()

            def view(**values):
                method = getattr(resource, request.method.lower())
                out = method(**values)
                code = 200
                if isinstance(out, tuple):
                    out, code = out
                resp = make_response(json.dumps(out) + "\n", code)
                resp.headers['Content-Type'] = 'application/json'
                return resp
            methods = [m.upper() for m in ('get', 'post') if hasattr(cls, m)]
            self.app.add_url_rule(rule, endpoint=cls.__name__ + rule, view_func=view, methods=methods)
            return cls
        return register
