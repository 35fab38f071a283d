/** Runs started per time bucket, stacked by their current status: the overview's small chart. */
import type { RunCountsByStatus } from '../../../api-types';
import { clock } from '../format';
import { statusClass } from './Status';

const ORDER = ['completed', 'failed', 'cancelled', 'started'];
const WIDTH = 264;
const HEIGHT = 56;

const statusesOf = (bucket: RunCountsByStatus) => [...ORDER.filter((status) => status in bucket), ...Object.keys(bucket).filter((status) => !ORDER.includes(status)).sort()];

export function RunsChart({ chart, buckets, bucketSeconds }: { chart: RunCountsByStatus[]; buckets: string[]; bucketSeconds: number }) {
  const totals = chart.map((bucket) => Object.values(bucket).reduce((sum, value) => sum + value, 0));
  const max = Math.max(1, ...totals);
  const slot = WIDTH / Math.max(1, chart.length);
  const barWidth = Math.max(2, slot - 3);
  return (
    <figure class="chart">
      <svg width={WIDTH} height={HEIGHT + 14} viewBox={`0 0 ${WIDTH} ${HEIGHT + 14}`} role="img" aria-label="runs started per interval, by status">
        <line class="baseline" x1={0} x2={WIDTH} y1={HEIGHT + 0.5} y2={HEIGHT + 0.5} />
        {chart.map((bucket, index) => {
          let top = HEIGHT;
          const start = buckets[index] ?? '';
          const end = new Date(new Date(start).getTime() + bucketSeconds * 1000).toISOString();
          return (
            <g key={start} data-bucket={index}>
              <title>
                {`${clock(start)}–${clock(end)}: ${totals[index] === 0 ? 'no runs' : statusesOf(bucket).map((status) => `${bucket[status]} ${status}`).join(', ')}`}
              </title>
              <rect class="slot" x={index * slot} y={0} width={slot} height={HEIGHT} />
              {statusesOf(bucket).map((status) => {
                const height = ((bucket[status] ?? 0) / max) * (HEIGHT - 2);
                top -= height;
                return <rect key={status} class={`bar ${statusClass(status)}`} x={index * slot + 1} y={top} width={barWidth} height={height} />;
              })}
            </g>
          );
        })}
        {buckets.length > 0 && (
          <>
            <text class="axis" x={0} y={HEIGHT + 12}>
              {clock(buckets[0]!)}
            </text>
            <text class="axis" x={WIDTH} y={HEIGHT + 12} text-anchor="end">
              now
            </text>
          </>
        )}
      </svg>
    </figure>
  );
}
