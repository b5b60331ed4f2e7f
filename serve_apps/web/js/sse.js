// Server-Sent Events read from a fetch() response body.
//
// EventSource cannot POST a JSON body nor send an Authorization header, and both streams
// (/chat/stream, /forecast/stream) need them, so the page reads the body itself. Parsing follows
// the WHATWG "event stream" rules: lines end in LF, CR or CRLF; a blank line ends an event;
// `event:` names it (default "message"), `data:` lines are joined with "\n", `id:` is kept,
// lines starting with ':' are comments; an event cut off by the end of the stream is dropped.

/** The server's payload is one JSON document per event; anything else is a protocol error. */
export class StreamProtocolError extends Error {}

/** One event block (lines without the blank terminator) → {event, data, id} or null. */
export function parseEventBlock(lines) {
  let event = 'message';
  let id = null;
  const data = [];
  for (const line of lines) {
    if (line === '' || line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') event = value;
    else if (field === 'data') data.push(value);
    else if (field === 'id') id = value;
  }
  if (data.length === 0) return null;
  const text = data.join('\n');
  try {
    return { event, id, data: JSON.parse(text) };
  } catch {
    throw new StreamProtocolError(`event ${event}: data is not JSON`);
  }
}

/**
 * Async iterator of {event, data, id} from a stream of text chunks (split anywhere — even
 * inside a line or between CR and LF).
 */
export async function* eventsFromText(chunks) {
  let pending = ''; // text not yet ending in a line break
  let lines = []; // complete lines of the event being read
  let lastWasCR = false;
  for await (const chunk of chunks) {
    let text = chunk;
    if (lastWasCR && text.startsWith('\n')) text = text.slice(1); // CRLF split across chunks
    lastWasCR = text.endsWith('\r');
    pending += text;
    const parts = pending.split(/\r\n|\r|\n/);
    pending = parts.pop();
    for (const line of parts) {
      if (line === '') {
        const ev = parseEventBlock(lines);
        lines = [];
        if (ev) yield ev;
      } else {
        lines.push(line);
      }
    }
  }
}

/** Text chunks of a fetch Response body, decoded as UTF-8 (multi-byte characters split safely). */
export async function* textChunks(response) {
  const reader = response.body.pipeThrough(new TextDecoderStream('utf-8')).getReader();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      if (value) yield value;
    }
  } finally {
    reader.cancel().catch(() => {}); // stop downloading if the consumer stopped early
  }
}

/** The SSE events of a fetch Response. */
export function sseEvents(response) {
  return eventsFromText(textChunks(response));
}
