// The depth-first lines of the subtree as the nested nodes el-tree wants, and the summary
// sentence of 管理下级组织.
import type { ChildRow, TreeLine } from './api'

export interface TreeNode {
  id: string
  label: string
  children: TreeNode[]
}

export function nest(lines: TreeLine[]): TreeNode[] {
  const byId = new Map<string, TreeNode>()
  const roots: TreeNode[] = []
  for (const l of lines) {
    const node: TreeNode = { id: l.id, label: l.short_name, children: [] }
    byId.set(l.id, node)
    const parent = byId.get(l.parent)
    if (parent && l.depth > 0) parent.children.push(node)
    else roots.push(node)
  }
  return roots
}

/** "团锦江区委共有下级组织:3个,其中团委:2个,团支部:1个" (UI.md). */
export function childrenSentence(unit: string, rows: ChildRow[]): string {
  const counts = new Map<string, number>()
  for (const r of rows) {
    const c = r.category || '未填写类别'
    counts.set(c, (counts.get(c) ?? 0) + 1)
  }
  const parts = [...counts].map(([c, n]) => `${c}:${n}个`)
  return `${unit}共有下级组织:${rows.length}个${parts.length ? `,其中${parts.join(',')}` : ''}`
}
