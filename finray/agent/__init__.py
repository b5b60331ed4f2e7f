"""The advisor agent: persona → retrieval → suitability-aware rerank → grounded, verified answer.

Entry points: :func:`finray.agent.graph.build_advisor_graph` (the LangGraph agent),
:func:`finray.agent.offline.stream_offline_answer` (the model-free generator, streamable) and
:func:`finray.agent.verify.verify_answer` (the number/name gate every answer passes).
"""
