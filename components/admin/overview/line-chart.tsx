"use client";

import { format } from "date-fns";
import { useId } from "react";

export type Series = { key: string; label: string; color: string; dash?: string; values: number[] };

const WIDTH = 520;
const HEIGHT = 200;
const PAD = { top: 10, right: 12, bottom: 28, left: 44 };

/** The smallest 1, 2 or 5 × 10^k at or above `max` (at least 4, so small counts get whole-number ticks). */
export function niceMax(max: number): number {
  if (max <= 4) return 4;
  const magnitude = 10 ** Math.floor(Math.log10(max));
  for (const step of [1, 2, 5, 10]) if (step * magnitude >= max) return step * magnitude;
  return 10 * magnitude;
}


/**
 * A line per series over time buckets, drawn as plain SVG: a title, the y scale (count per bucket),
 * time labels, a legend that names each line (colour and dash pattern, so colour is not the only
 * cue), an empty state, and the same numbers as a table for screen readers.
 */
export function LineChart({
  title,
  description,
  unit,
  buckets,
  series,
  emptyText,
  timeFormat = "HH:mm",
}: {
  title: string;
  description: string;
  unit: string;
  buckets: string[];
  series: Series[];
  emptyText: string;
  /** date-fns pattern of the time labels. */
  timeFormat?: string;
}) {
  const headingId = useId();
  const timeLabel = (iso: string) => format(new Date(iso), timeFormat);
  const max = Math.max(0, ...series.flatMap((s) => s.values));
  const top = niceMax(max);
  const plotWidth = WIDTH - PAD.left - PAD.right;
  const plotHeight = HEIGHT - PAD.top - PAD.bottom;
  const x = (i: number) => PAD.left + (buckets.length <= 1 ? plotWidth : (i / (buckets.length - 1)) * plotWidth);
  const y = (v: number) => PAD.top + plotHeight - (v / top) * plotHeight;
  const labelEvery = Math.max(1, Math.ceil(buckets.length / 6));
  const totals = series.map((s) => `${s.label} ${s.values.reduce((a, b) => a + b, 0)}`).join(", ");
  const summary = `${title}, ${buckets.length > 0 ? `${timeLabel(buckets[0]!)} to ${timeLabel(buckets[buckets.length - 1]!)}` : ""}. Totals: ${totals}.`;
  return (
    <section aria-labelledby={headingId} className="rounded-lg border border-slate-200 p-4 dark:border-slate-800">
      <h2 id={headingId} className="font-medium">
        {title}
      </h2>
      <p className="text-xs text-slate-500">{description}</p>
      <ul aria-label={`${title}: legend`} className="mt-2 flex flex-wrap gap-x-4 gap-y-1 text-xs">
        {series.map((s) => (
          <li key={s.key} className="flex items-center gap-1.5">
            <svg width="22" height="8" aria-hidden="true">
              <line x1="1" y1="4" x2="21" y2="4" stroke={s.color} strokeWidth="2.5" strokeDasharray={s.dash} />
            </svg>
            {s.label}
          </li>
        ))}
      </ul>
      {max === 0 ? (
        <p className="mt-3 flex h-40 items-center justify-center rounded-md bg-slate-50 text-sm text-slate-500 dark:bg-slate-900">{emptyText}</p>
      ) : (
        <svg viewBox={`0 0 ${WIDTH} ${HEIGHT}`} role="img" aria-label={summary} className="mt-2 h-auto w-full text-slate-400">
          {[0, top / 2, top].map((tick) => (
            <g key={tick}>
              <line x1={PAD.left} x2={WIDTH - PAD.right} y1={y(tick)} y2={y(tick)} stroke="currentColor" strokeOpacity={tick === 0 ? 0.8 : 0.25} />
              <text x={PAD.left - 6} y={y(tick)} textAnchor="end" dominantBaseline="middle" fontSize="13" fill="currentColor">
                {Number.isInteger(tick) ? tick : tick.toFixed(1)}
              </text>
            </g>
          ))}
          <text x={4} y={PAD.top} fontSize="12" fill="currentColor" dominantBaseline="hanging" transform={`rotate(-90 4 ${PAD.top})`} textAnchor="end">
            {unit}
          </text>
          {buckets.map((at, i) =>
            i % labelEvery === 0 || i === buckets.length - 1 ? (
              <text key={at} x={x(i)} y={HEIGHT - 8} textAnchor={i === 0 ? "start" : i === buckets.length - 1 ? "end" : "middle"} fontSize="13" fill="currentColor">
                {timeLabel(at)}
              </text>
            ) : null,
          )}
          {series.map((s) => (
            <g key={s.key}>
              <polyline points={s.values.map((v, i) => `${x(i)},${y(v)}`).join(" ")} fill="none" stroke={s.color} strokeWidth="2" strokeDasharray={s.dash} strokeLinejoin="round" />
              {s.values.map((v, i) => (v > 0 ? <circle key={i} cx={x(i)} cy={y(v)} r="2.5" fill={s.color} /> : null))}
            </g>
          ))}
        </svg>
      )}
      <table className="sr-only">
        <caption>{title}</caption>
        <thead>
          <tr>
            <th scope="col">Time</th>
            {series.map((s) => (
              <th key={s.key} scope="col">
                {s.label}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {buckets.map((at, i) => (
            <tr key={at}>
              <th scope="row">{timeLabel(at)}</th>
              {series.map((s) => (
                <td key={s.key}>{s.values[i] ?? 0}</td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
