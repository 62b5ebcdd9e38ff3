/**
 * Drawing a Vega-Lite spec without a browser: Vega-Lite compiles it to Vega, Vega's headless view
 * (renderer 'none') writes SVG, and resvg rasterises the SVG to PNG with the DejaVu Sans fonts shipped
 * as a dependency, so text renders the same on any machine, with or without fonts installed.
 *
 * Nothing is fetched: the loader Vega gets refuses every URL and file (the spec check already refuses
 * data URLs with a clear message; this is the backstop), and resvg loads no system fonts.
 *
 * Vega, Vega-Lite and resvg are imported on the first chart only, so commands and the service that
 * never draw one do not pay for them at start-up.
 */
import { access } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { PwError } from '../../core/errors/pw-error.js';
import { CHART_FONT, type Spec } from './chart-spec.js';
import { loadFontMetrics, vegaTextWidth } from './chart-font-metrics.js';
import type { Loader, ViewOptions } from 'vega';
import type { compile, TopLevelSpec } from 'vega-lite';

// Type-only: the modules themselves are imported in renderChart.
type VegaLiteLogger = NonNullable<NonNullable<Parameters<typeof compile>[1]>['logger']>;

const FONT_FILES = [
  'DejaVuSans.ttf',
  'DejaVuSans-Bold.ttf',
  'DejaVuSans-Oblique.ttf',
  'DejaVuSans-BoldOblique.ttf',
];

export interface RenderedChart {
  svg: string;
  png: Buffer;
  /** Size of the whole chart (plot, axes, legend, title) in CSS pixels; the PNG is `scale` times this. */
  width: number;
  height: number;
  /** What Vega-Lite and Vega warned about, such as a channel they dropped. */
  warnings: string[];
}

let fontFiles: Promise<string[]> | undefined;

/** The shipped font files; their absence is an installation problem, reported as such. */
export function chartFontFiles(): Promise<string[]> {
  fontFiles ??= (async () => {
    let folder: string;
    try {
      folder = join(dirname(createRequire(import.meta.url).resolve('dejavu-fonts-ttf/package.json')), 'ttf');
    } catch (cause) {
      throw new PwError('PW_INTERNAL', 'The chart font package dejavu-fonts-ttf is not installed', {
        cause,
        hint: 'Reinstall Pipewright (npm install) so its dependencies are complete.',
      });
    }
    const files = FONT_FILES.map((name) => join(folder, name));
    for (const file of files) {
      try {
        await access(file);
      } catch (cause) {
        throw new PwError('PW_INTERNAL', `The chart font ${file} is missing`, {
          cause,
          hint: 'Reinstall Pipewright (npm install) so the dejavu-fonts-ttf package is complete.',
        });
      }
    }
    return files;
  })();
  const pending = fontFiles;
  pending.catch(() => {
    if (fontFiles === pending) fontFiles = undefined;
  });
  return pending;
}

function text(args: unknown[]): string {
  return args.map((arg) => (arg instanceof Error ? arg.message : String(arg))).join(' ');
}

/** A Vega/Vega-Lite logger that keeps warnings and errors and drops the chatter. */
function collectingLogger(into: string[]) {
  let level = 2;
  const logger = {
    level(value?: number) {
      if (value === undefined) return level;
      level = value;
      return logger;
    },
    error(...args: unknown[]) {
      into.push(text(args));
      return logger;
    },
    warn(...args: unknown[]) {
      into.push(text(args));
      return logger;
    },
    info() {
      return logger;
    },
    debug() {
      return logger;
    },
  };
  return logger;
}

function refused(uri: string): Promise<never> {
  return Promise.reject(
    new PwError('PW_CHART_SPEC', `The chart tried to load '${uri}'; charts load nothing from URLs or files`, {
      hint: 'Chart a dataset through input:, and give images and data inline.',
    }),
  );
}

const offlineLoader: Loader = {
  load: (uri: string) => refused(uri),
  sanitize: (uri: string) => refused(uri),
  http: (uri: string) => refused(uri),
  file: (file: string) => refused(file),
};

function compileFailure(error: unknown): PwError {
  if (error instanceof PwError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new PwError('PW_CHART_SPEC', `Vega-Lite could not draw the chart: ${message}`, {
    cause: error,
    hint: 'The spec passed Vega-Lite’s schema but not its compiler; check that marks, encodings and transforms fit together (the Vega-Lite documentation has an example for most charts).',
  });
}

/** Renders a complete Vega-Lite spec (data included) to SVG and PNG. */
export async function renderChart(
  spec: Spec,
  options: { scale: number; signal: AbortSignal },
): Promise<RenderedChart> {
  const [vega, vegaLite, resvg, fonts] = await Promise.all([
    import('vega'),
    import('vega-lite'),
    import('@resvg/resvg-js'),
    chartFontFiles(),
  ]);
  options.signal.throwIfAborted();
  // Layout (label overlap, legend and axis sizes) measured with the font resvg draws with.
  const metrics = await loadFontMetrics(fonts[0]!, fonts[1]!);
  (vega as unknown as { textMetrics: { width: unknown } }).textMetrics.width = vegaTextWidth(metrics);
  const warnings: string[] = [];
  const logger = collectingLogger(warnings);

  let svg: string;
  try {
    const compiled = vegaLite.compile(spec as unknown as TopLevelSpec, {
      logger: logger as unknown as VegaLiteLogger,
    });
    const viewOptions: ViewOptions = {
      renderer: 'none',
      loader: offlineLoader,
      logger: logger as unknown as NonNullable<ViewOptions['logger']>,
      logLevel: vega.Warn,
    };
    const view = new vega.View(vega.parse(compiled.spec), viewOptions);
    try {
      svg = await view.toSVG();
    } finally {
      view.finalize();
    }
  } catch (error) {
    throw compileFailure(error);
  }
  options.signal.throwIfAborted();

  const image = await resvg.renderAsync(
    svg,
    {
      font: {
        fontFiles: fonts,
        loadSystemFonts: false,
        defaultFontFamily: CHART_FONT,
        sansSerifFamily: CHART_FONT,
        serifFamily: CHART_FONT,
        monospaceFamily: CHART_FONT,
      },
      fitTo: { mode: 'zoom', value: options.scale },
      background: 'white',
      shapeRendering: 2,
      textRendering: 1,
      logLevel: 'off',
    },
    options.signal,
  );
  const size = /<svg\b[^>]*?\swidth="([\d.]+)"[^>]*?\sheight="([\d.]+)"/.exec(svg);
  return {
    svg,
    png: image.asPng(),
    width: Math.round(Number(size?.[1] ?? image.width / options.scale)),
    height: Math.round(Number(size?.[2] ?? image.height / options.scale)),
    warnings: [...new Set(warnings)],
  };
}
