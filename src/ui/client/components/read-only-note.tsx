/** Said instead of showing buttons a read-only token could not use. */
export function ReadOnlyNote({ what }: { what: string }) {
  return (
    <p class="note" role="note">
      Your token is read-only: you can see {what} but not change anything.
    </p>
  );
}
