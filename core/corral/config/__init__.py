"""The cluster configuration: objects, schemas, inheritance and storage.

Only :mod:`corral.config.store` writes the config file; everything else
reads objects. Objects are frozen: a change is a new object built with
:func:`dataclasses.replace` and committed through the store.
"""
