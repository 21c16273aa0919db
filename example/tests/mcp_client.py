"""Drives an MCP server with the official Python client (`mcp`, pinned in
.ci/run) and prints what happened as one JSON document.

    python3 mcp_client.py stdio PROGRAM ARGS.. -- CALLS_JSON
    python3 mcp_client.py http URL TOKEN -- CALLS_JSON

CALLS_JSON is a list of [tool, arguments]. The report holds the negotiated
protocol version, the server's name, the tool names, the size of the tool
list, and for each call whether it was an error and its text.
"""

import asyncio
import json
import sys

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client


async def drive(session, calls):
    init = await session.initialize()
    tools = await session.list_tools()
    listing = json.dumps(
        {"tools": [t.model_dump(by_alias=True, exclude_none=True, mode="json") for t in tools.tools]}
    )
    results = []
    for name, arguments in calls:
        result = await session.call_tool(name, arguments)
        text = "".join(getattr(block, "text", "") for block in result.content)
        results.append({"tool": name, "is_error": bool(result.is_error), "text": text})
    return {
        "protocol": init.protocol_version,
        "server": init.server_info.name,
        "tools": [t.name for t in tools.tools],
        "tools_bytes": len(listing),
        "results": results,
    }


async def main():
    mode = sys.argv[1]
    split = sys.argv.index("--")
    head, calls = sys.argv[2:split], json.loads(sys.argv[split + 1])
    if mode == "stdio":
        params = StdioServerParameters(command=head[0], args=head[1:])
        async with stdio_client(params) as (read, write):
            async with ClientSession(read, write) as session:
                report = await drive(session, calls)
    else:
        import httpx2

        url, token = head
        client = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30)
        async with streamable_http_client(url, http_client=client) as streams:
            read, write = streams[0], streams[1]
            async with ClientSession(read, write) as session:
                report = await drive(session, calls)
    print(json.dumps(report))


asyncio.run(main())
