interface Doc {
  readonly id: string;
  readonly text: string;
}

function retrieval(query: string, docs: readonly Doc[]): Doc[] {
  return docs.filter((doc) => doc.text.includes(query));
}

export function evaluate(query: string, docs: readonly Doc[]): number {
  const hits = retrieval(query, docs);
  const scores: Record<string, number> = {};
  for (const doc of hits) {
    scores["score-" + doc.id] = doc.text.length;
  }
  return Object.keys(scores).length;
}

export const timer = setTimeout(() => evaluate("x", []), 10);
