// Search results as quick pick items: the symbol (or the file) as label, path and line beside it,
// the snippet's first meaningful line as detail.
import type { SearchResult } from "./protocol";

export interface SearchItem {
  label: string;
  description: string;
  detail: string;
  result: SearchResult;
}

export function toSearchItems(results: SearchResult[], relative: (uri: string) => string): SearchItem[] {
  return results.map((result) => {
    const path = relative(result.uri);
    const line = result.range.start.line + 1;
    const firstLine = result.snippet.split("\n").find((l) => l.trim() !== "")?.trim() ?? "";
    return {
      label: result.symbol ? `$(symbol-method) ${result.symbol}` : `$(file) ${path}`,
      description: `${path}:${line}`,
      detail: firstLine.length > 120 ? `${firstLine.slice(0, 119)}…` : firstLine,
      result,
    };
  });
}
