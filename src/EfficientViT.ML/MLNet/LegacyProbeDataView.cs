using Microsoft.ML;
using Microsoft.ML.Data;

namespace EfficientViT.ML.MLNet;

/// <summary>
/// A few in-memory rows of one column of any type, for the <see cref="LegacyZipReader"/>'s check of a replacement: ML.NET's
/// <c>LoadFromEnumerable</c> maps an image member only to a size an attribute declared somewhere in the process.
/// </summary>
internal sealed class LegacyProbeDataView<T> : IDataView
{
    private readonly T[] values;
    private readonly Func<T, T> copy;

    /// <param name="columnName">The column's name.</param>
    /// <param name="type">The column's type.</param>
    /// <param name="values">One value per row.</param>
    /// <param name="copy">What a getter hands out for a stored value (a copy, where readers may change it).</param>
    public LegacyProbeDataView(string columnName, DataViewType type, T[] values, Func<T, T> copy)
    {
        this.values = values;
        this.copy = copy;
        var builder = new DataViewSchema.Builder();
        builder.AddColumn(columnName, type);
        Schema = builder.ToSchema();
    }

    public DataViewSchema Schema { get; }

    public bool CanShuffle => false;

    public long? GetRowCount() => values.Length;

    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null) => new Cursor(this);

    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null) => [new Cursor(this)];

    private sealed class Cursor(LegacyProbeDataView<T> parent) : DataViewRowCursor
    {
        private long position = -1;

        public override DataViewSchema Schema => parent.Schema;

        public override long Position => position;

        public override long Batch => 0;

        public override bool IsColumnActive(DataViewSchema.Column column) => true;

        public override ValueGetter<DataViewRowId> GetIdGetter() => (ref DataViewRowId id) => id = new DataViewRowId((ulong)position, 0);

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            if (typeof(TValue) != typeof(T))
                throw new InvalidOperationException($"Column '{column.Name}' holds {typeof(T).Name}, not {typeof(TValue).Name}.");
            ValueGetter<T> getter = (ref T value) => value = parent.copy(parent.values[position]);
            return (ValueGetter<TValue>)(Delegate)getter;
        }

        public override bool MoveNext() => ++position < parent.values.Length;
    }
}
