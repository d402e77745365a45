"""The agent interface: reelkit's commands as typed, planned, confirmed and journaled tools (``reelkit mcp``).

- :mod:`core.agent.schema`: JSON Schema from the parameter specs; strict argument checks (:class:`FieldError`)
- :mod:`core.agent.roots`: the allowed roots; every path resolved inside them
- :mod:`core.agent.tools`: the tools, each a command's specs and library call
- :mod:`core.agent.plan`: a call's plan (files read, written, replaced; frames) and its confirmation token
- :mod:`core.agent.journal`: the journal of actions, exact undo / redo
- :mod:`core.agent.service`: one call, checked, planned, confirmed, run and journaled
- :mod:`core.agent.server`: the MCP server over stdio (the ``mcp`` extra)
"""
