# A script without the `application` callable.
something_else = None
