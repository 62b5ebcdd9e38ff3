/**
 * A run's log: follows a running run over Server-Sent Events and resumes after the last line it has
 * when the connection comes back; filters by level and text; renders only the rows in view, so a
 * 100,000-line log keeps the page responsive.
 */
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import type { LogLine } from '../types.js';
import { setOnline } from '../api.js';

const ROW_HEIGHT = 20;
const OVERSCAN = 20;
const LEVELS = ['debug', 'info', 'warn', 'error'] as const;
const RECONNECT_MS = 2000;

/** Keeps the lines outside component state (100,000 objects) and tells the view when more arrived. */
function useLogStream(runId: string): {
  lines: LogLine[];
  version: number;
  ended: boolean;
  connected: boolean;
} {
  const lines = useRef<LogLine[]>([]);
  const [version, setVersion] = useState(0);
  const [ended, setEnded] = useState(false);
  const [connected, setConnected] = useState(false);

  useEffect(() => {
    lines.current = [];
    setVersion(0);
    setEnded(false);
    let source: EventSource | null = null;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let frame = 0;
    let closed = false;
    const lastId = () => lines.current.at(-1)?.id ?? 0;
    const flush = () => {
      frame = 0;
      setVersion((value) => value + 1);
    };
    const open = () => {
      // EventSource resends Last-Event-ID on its own reconnects; a fresh one after a failure says `after`.
      source = new EventSource(`/api/runs/${encodeURIComponent(runId)}/logs?after=${lastId()}`);
      source.addEventListener('open', () => {
        setConnected(true);
        setOnline(true);
      });
      source.addEventListener('log', (event) => {
        const line = JSON.parse((event as MessageEvent<string>).data) as LogLine;
        if (line.id <= lastId()) return; // a resumed stream never repeats a line
        lines.current.push(line);
        if (frame === 0) frame = requestAnimationFrame(flush);
      });
      source.addEventListener('end', () => {
        closed = true;
        source?.close();
        setConnected(false);
        setEnded(true);
        setVersion((value) => value + 1);
      });
      source.addEventListener('error', () => {
        setConnected(false);
        if (closed) return;
        // A dropped connection: the browser retries itself while readyState is CONNECTING; once it gives
        // up (CLOSED: the server answered an error or refused), try again ourselves after a pause.
        if (source?.readyState === EventSource.CLOSED) {
          setOnline(false);
          timer = setTimeout(() => {
            if (!closed) open();
          }, RECONNECT_MS);
        }
      });
    };
    open();
    return () => {
      closed = true;
      source?.close();
      if (timer) clearTimeout(timer);
      if (frame) cancelAnimationFrame(frame);
    };
  }, [runId]);

  return { lines: lines.current, version, ended, connected };
}

export function LogView({ runId }: { runId: string }) {
  const { lines, version, ended, connected } = useLogStream(runId);
  const [search, setSearch] = useState('');
  const [level, setLevel] = useState('all');
  const [follow, setFollow] = useState(true);
  const [scrollTop, setScrollTop] = useState(0);
  const [viewport, setViewport] = useState(400);
  const scroller = useRef<HTMLDivElement>(null);

  const visible = useMemo(() => {
    const needle = search.trim().toLowerCase();
    if (needle === '' && level === 'all') return lines;
    const minimum = LEVELS.indexOf(level as (typeof LEVELS)[number]);
    return lines.filter(
      (line) =>
        (level === 'all' || LEVELS.indexOf(line.level as (typeof LEVELS)[number]) >= minimum) &&
        (needle === '' ||
          line.message.toLowerCase().includes(needle) ||
          (line.step ?? '').toLowerCase().includes(needle)),
    );
    // `version` changes when lines were appended to the same array
  }, [lines, version, search, level]);

  useEffect(() => {
    const element = scroller.current;
    if (!element) return;
    setViewport(element.clientHeight);
    if (follow) element.scrollTop = element.scrollHeight;
  }, [visible.length, follow]);

  const onScroll = () => {
    const element = scroller.current;
    if (!element) return;
    setScrollTop(element.scrollTop);
    const atBottom = element.scrollTop + element.clientHeight >= element.scrollHeight - ROW_HEIGHT;
    if (atBottom !== follow) setFollow(atBottom);
  };

  const first = Math.max(0, Math.floor(scrollTop / ROW_HEIGHT) - OVERSCAN);
  const last = Math.min(visible.length, Math.ceil((scrollTop + viewport) / ROW_HEIGHT) + OVERSCAN);
  const rows = visible.slice(first, last);

  return (
    <div class="logs">
      <div class="log-tools">
        <label>
          Search{' '}
          <input type="search" value={search} onInput={(event) => setSearch(event.currentTarget.value)} />
        </label>
        <label>
          Level{' '}
          <select value={level} onChange={(event) => setLevel(event.currentTarget.value)}>
            <option value="all">all</option>
            <option value="info">info and above</option>
            <option value="warn">warnings and errors</option>
            <option value="error">errors</option>
          </select>
        </label>
        <span class="muted" aria-live="polite">
          {visible.length === lines.length
            ? `${lines.length} lines`
            : `${visible.length} of ${lines.length} lines`}
          {ended ? ' · complete' : connected ? ' · following' : ' · connecting…'}
        </span>
        {!follow ? (
          <button type="button" onClick={() => setFollow(true)}>
            Follow ↓
          </button>
        ) : null}
      </div>
      <div
        class="log-scroll"
        ref={scroller}
        onScroll={onScroll}
        tabIndex={0}
        role="log"
        aria-label="Run log"
        data-total={visible.length}
      >
        <div style={{ height: `${visible.length * ROW_HEIGHT}px`, position: 'relative' }}>
          {rows.map((line, index) => (
            <div
              key={line.id}
              class={`log-line lv-${line.level}`}
              style={{ top: `${(first + index) * ROW_HEIGHT}px` }}
              data-id={line.id}
            >
              <span class="log-time">{line.at.slice(11, 23)}</span>
              <span class="log-level">{line.level}</span>
              {line.step ? <span class="log-step">[{line.step}]</span> : null}
              <span class="log-msg">{line.message}</span>
            </div>
          ))}
        </div>
      </div>
    </div>
  );
}
