/** Opens the project and its state store for one command, and always closes the store. */
import type { GlobalOptions } from './main.js';
import { loadProject, type Project } from '../project/load-project.js';
import { openStateStore } from '../store/open-store.js';
import type { StateStore } from '../store/state-store.js';

export interface ProjectSession {
  project: Project;
  store: StateStore;
}

export async function withProjectStore<T>(
  globals: GlobalOptions,
  work: (session: ProjectSession) => Promise<T>,
): Promise<T> {
  const project = await loadProject(globals.project);
  const store = await openStateStore(project.spec.state, project.dir);
  try {
    return await work({ project, store });
  } finally {
    await store.close();
  }
}
