"""Framework hooks. Each module imports its framework at the top, so only users who touch it pay.

- :mod:`slm_agents.integrations.langchain`: a LangChain callback handler and a process-wide hook.
- :mod:`slm_agents.integrations.llama_index`: a LlamaIndex root-dispatcher handler.
"""
