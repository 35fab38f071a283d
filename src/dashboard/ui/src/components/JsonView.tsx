/**
 * A JSON value, pretty-printed by the server. Long values arrive cut short;
 * "Show all" fetches the whole value. Shown as text, never as markup.
 */
import { useState } from 'preact/hooks';
import type { JsonPreview, JsonValueData } from '../../../api-types';
import { ApiError, getJson } from '../api';
import { count } from '../format';

export function JsonView({ value, source, testId }: { value: JsonPreview | null; source?: { runId: string; params: Record<string, string> }; testId?: string }) {
  const [whole, setWhole] = useState<string | undefined>(undefined);
  const [problem, setProblem] = useState<string | undefined>(undefined);
  const [loading, setLoading] = useState(false);
  if (value === null) return <pre class="json empty" data-testid={testId}>(none)</pre>;
  const text = whole ?? value.text;
  const showAll = async () => {
    if (!source) return;
    setLoading(true);
    try {
      const data = await getJson<JsonValueData>(`/runs/${encodeURIComponent(source.runId)}/value`, new URLSearchParams(source.params));
      setWhole(data.text);
    } catch (error) {
      setProblem(error instanceof ApiError ? error.message : String(error));
    } finally {
      setLoading(false);
    }
  };
  return (
    <div class="json-view">
      <pre class="json" data-testid={testId}>
        {text}
        {whole === undefined && value.truncated && '\n…'}
      </pre>
      {whole === undefined && value.truncated && (
        <p class="truncated">
          Showing {count(value.text.length)} of {count(value.length)} characters.{' '}
          {source && (
            <button type="button" onClick={showAll} disabled={loading}>
              {loading ? 'Loading…' : 'Show all'}
            </button>
          )}
        </p>
      )}
      {problem && <p class="problem-inline">{problem}</p>}
    </div>
  );
}
