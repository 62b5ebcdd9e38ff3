/** The step graph as SVG: each step in the layer after its deepest dependency, edges as curves. */
export interface DagStep {
  id: string;
  type: string;
  needs: string[];
}

const NODE_W = 150;
const NODE_H = 40;
const GAP_X = 50;
const GAP_Y = 14;

function layers(steps: DagStep[]): Map<string, number> {
  const byId = new Map(steps.map((step) => [step.id, step]));
  const depth = new Map<string, number>();
  const visiting = new Set<string>();
  const visit = (id: string): number => {
    const known = depth.get(id);
    if (known !== undefined) return known;
    if (visiting.has(id)) return 0; // a cycle is a validation error elsewhere; draw it flat here
    visiting.add(id);
    const needs = byId.get(id)?.needs.filter((need) => byId.has(need)) ?? [];
    const value = needs.length === 0 ? 0 : Math.max(...needs.map(visit)) + 1;
    visiting.delete(id);
    depth.set(id, value);
    return value;
  };
  for (const step of steps) visit(step.id);
  return depth;
}

export function Dag({ steps, statuses }: { steps: DagStep[]; statuses?: Record<string, string> }) {
  if (steps.length === 0) return <p class="muted">No steps.</p>;
  const depth = layers(steps);
  const columns: DagStep[][] = [];
  for (const step of steps) {
    const column = depth.get(step.id) ?? 0;
    (columns[column] ??= []).push(step);
  }
  const position = new Map<string, { x: number; y: number }>();
  columns.forEach((column, x) =>
    column.forEach((step, y) => position.set(step.id, { x: x * (NODE_W + GAP_X), y: y * (NODE_H + GAP_Y) })),
  );
  const width = columns.length * (NODE_W + GAP_X) - GAP_X;
  const height = Math.max(...columns.map((column) => column.length)) * (NODE_H + GAP_Y) - GAP_Y;
  const description = steps
    .map((step) => (step.needs.length > 0 ? `${step.id} after ${step.needs.join(', ')}` : `${step.id} first`))
    .join('; ');
  return (
    <div class="dag-scroll" tabIndex={0} role="group" aria-label="Step graph">
      <svg
        class="dag"
        viewBox={`-2 -2 ${width + 4} ${height + 4}`}
        width={width + 4}
        height={height + 4}
        role="img"
      >
        <title>Step graph</title>
        <desc>{description}</desc>
        {steps.flatMap((step) =>
          step.needs.map((need) => {
            const from = position.get(need);
            const to = position.get(step.id);
            if (!from || !to) return null;
            const x1 = from.x + NODE_W;
            const y1 = from.y + NODE_H / 2;
            const x2 = to.x;
            const y2 = to.y + NODE_H / 2;
            const mid = (x1 + x2) / 2;
            return (
              <path
                key={`${need}-${step.id}`}
                class="edge"
                d={`M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2},${y2}`}
              />
            );
          }),
        )}
        {steps.map((step) => {
          const at = position.get(step.id) ?? { x: 0, y: 0 };
          const status = statuses?.[step.id];
          return (
            <g
              key={step.id}
              transform={`translate(${at.x},${at.y})`}
              class={`node${status ? ` st-${status}` : ''}`}
            >
              <rect width={NODE_W} height={NODE_H} rx="6" />
              <text x="8" y="17" class="node-id">
                {step.id.length > 20 ? `${step.id.slice(0, 19)}…` : step.id}
              </text>
              <text x="8" y="32" class="node-type">
                {step.type}
                {status ? ` · ${status}` : ''}
              </text>
            </g>
          );
        })}
      </svg>
    </div>
  );
}
