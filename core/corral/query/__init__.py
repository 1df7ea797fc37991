"""Queries over the config and live node data, in Ganeti's query2 form.

A query names a resource (``node``, ``instance``, ``group``), the fields
wanted and an optional filter; the answer lists the field definitions and,
per object, one ``[status, value]`` pair per field. Fields that need live
data (free memory, running state) make the query ask the nodes, once, in
parallel; a node that cannot answer gives those fields the status
"no data" or "offline" instead of failing the whole query.
"""
