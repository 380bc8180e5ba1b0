import { isNode, type LineCounter, type Node } from 'yaml';
import type { SourcePos } from './model.js';

/** The 1-based line/column where `node` starts in `file` (falls back to 1:1 for synthetic nodes). */
export function positionOf(node: unknown, lineCounter: LineCounter, file: string): SourcePos {
  const offset = isNode(node) && (node as Node).range ? (node as Node).range![0] : 0;
  const { line, col } = lineCounter.linePos(offset);
  return { file, line, col };
}
