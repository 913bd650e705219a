"""nnderive's numeric side: generated NumPy functions and the tools that check them.

``import numeric`` needs NumPy only.  The functions of the public contract are
re-exported here from the generated modules (``activations``, ``vector_maps``,
``losses``, ``layers``), which are written by ``nnderive codegen`` and must not
be edited by hand.

Examples
--------
>>> import numeric
>>> float(numeric.sigmoid(0.0)), float(numeric.sigmoid_grad(0.0))
(0.5, 0.25)
>>> y, dy = numeric.tanh_and_grad([0.0, 1.0])
>>> dy.round(6).tolist()
[1.0, 0.419974]
"""

from .activations import *  # noqa: F401,F403
from .activations import __all__ as _activations
from .layers import *  # noqa: F401,F403
from .layers import __all__ as _layers
from .losses import *  # noqa: F401,F403
from .losses import __all__ as _losses
from .vector_maps import *  # noqa: F401,F403
from .vector_maps import __all__ as _vector_maps

__all__ = [*_activations, *_vector_maps, *_losses, *_layers]
__version__ = "0.1.0"
