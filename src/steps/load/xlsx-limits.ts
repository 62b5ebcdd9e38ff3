/** Limits of the XLSX format, kept apart from the writer so checking them does not load exceljs. */

/** The most data rows a worksheet holds below its header row. */
export const XLSX_MAX_ROWS = 1_048_575;
