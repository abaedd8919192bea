"""A small Flask app, served in its tests by real Apache (mod_gateway or mod_wsgi)."""

import os
import sys

from flask import Flask, jsonify, request

app = Flask(__name__)
NOTES = []


@app.get("/")
def home():
    return "hello from Flask under Apache\n"


@app.get("/where")
def where():
    """Which process serves us: mod_wsgi/mod_gateway put their facts in the environ."""
    env = request.environ
    return jsonify(pid=os.getpid(), python="%d.%d" % sys.version_info[:2],
                   process_group=env.get("mod_wsgi.process_group"),
                   application_group=env.get("mod_wsgi.application_group"),
                   script_name=env.get("SCRIPT_NAME"), prefix=sys.prefix)


@app.post("/notes")
def add_note():
    note = request.get_json(force=True)
    if not isinstance(note, dict) or not note.get("text"):
        return jsonify(error="a note needs a text"), 400
    NOTES.append(note["text"])
    return jsonify(count=len(NOTES)), 201


@app.get("/notes")
def list_notes():
    return jsonify(notes=NOTES)


@app.get("/square/<int:n>")
def square(n):
    return jsonify(n=n, square=n * n)


@app.get("/crash")
def crash():
    raise RuntimeError("crashed on purpose")


application = app   # what a mod_wsgi script file would export
