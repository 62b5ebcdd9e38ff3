/** A pipeline as the REST API describes it (GET /api/pipelines/{id}): the fields the CLI prints. */
export interface PipelineJson {
  id: string;
  schedule: { in_words: string; catchup: string; next: string[] } | null;
  paused: boolean;
  revision: number | null;
}

export const pipelinePath = (id: string) => `/api/pipelines/${encodeURIComponent(id)}`;
