"""Version of the fairness engine, stored with every check so a result can be traced to the code that made it.

Raise it whenever a metric, interval, verdict, trend or forecast rule changes its output.
"""

ENGINE_VERSION = "1.0.0"
