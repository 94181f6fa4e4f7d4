"""HireMate: behaviour-based skill observation for hiring.

The domain lives here; it imports neither streamlit nor websockets.
"""

__version__ = "0.1.0"
