"""Logical units: the code that carries out each opcode on the master.

One LU class per OP_ID, registered by defining it (see :mod:`corral.cmdlib.base`);
:mod:`corral.cmdlib.processor` runs them. Modules are imported here so the
registry is complete.
"""

from corral.cmdlib import certificates as certificates
from corral.cmdlib import cluster as cluster
from corral.cmdlib import group as group
from corral.cmdlib import instance_copy as instance_copy
from corral.cmdlib import instance_create as instance_create
from corral.cmdlib import instance_group as instance_group
from corral.cmdlib import instance_lifecycle as instance_lifecycle
from corral.cmdlib import instance_maint as instance_maint
from corral.cmdlib import instance_modify as instance_modify
from corral.cmdlib import instance_move as instance_move
from corral.cmdlib import instance_query as instance_query
from corral.cmdlib import instance_recreate as instance_recreate
from corral.cmdlib import node as node
from corral.cmdlib import osdefs as osdefs
from corral.cmdlib import tags as tags
from corral.cmdlib import test as test
from corral.cmdlib import verify as verify
from corral.cmdlib.base import LU_CLASSES
from corral.cmdlib.base import LogicalUnit
from corral.cmdlib.base import LUContext

__all__ = ["LU_CLASSES", "LUContext", "LogicalUnit"]
