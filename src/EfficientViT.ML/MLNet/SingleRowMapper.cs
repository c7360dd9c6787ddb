using Microsoft.ML;
using Microsoft.ML.Data;

namespace EfficientViT.ML.MLNet;

/// <summary>
/// Adds the scored column to single rows (what <c>PredictionEngine</c> asks of a transformer): each row is
/// read into a buffer bound to ONNX Runtime and scored there, once per row position.
/// </summary>
internal sealed class SingleRowMapper : IRowToRowMapper
{
    private readonly ModelInput input;
    private readonly SingleRowScorer scorer;
    private readonly Func<bool> disposed;

    public SingleRowMapper(DataViewSchema inputSchema, ModelInput input, string outputColumnName, DataViewType outputType, SingleRowScorer scorer, Func<bool> disposed)
    {
        InputSchema = inputSchema;
        this.input = input;
        this.scorer = scorer;
        this.disposed = disposed;
        var builder = new DataViewSchema.Builder();
        builder.AddColumns(inputSchema);
        builder.AddColumn(outputColumnName, outputType);
        OutputSchema = builder.ToSchema();
    }

    public DataViewSchema InputSchema { get; }

    public DataViewSchema OutputSchema { get; }

    private int OutputIndex => OutputSchema.Count - 1;

    public IEnumerable<DataViewSchema.Column> GetDependencies(IEnumerable<DataViewSchema.Column> dependingColumns)
    {
        var needed = dependingColumns.ToList();
        var columns = needed.Where(c => c.Index < InputSchema.Count).Select(c => InputSchema[c.Index]).ToList();
        if (needed.Any(c => c.Index == OutputIndex) && columns.All(c => c.Name != input.ColumnName))
            columns.Add(InputSchema[input.ColumnName]);
        return columns;
    }

    public DataViewRow GetRow(DataViewRow input, IEnumerable<DataViewSchema.Column> activeColumns)
    {
        if (disposed())
            throw new ObjectDisposedException(nameof(SingleRowMapper), "EfficientViT scoring: the transformer was disposed.");
        return new Row(this, input, activeColumns.Any(c => c.Index == OutputIndex));
    }

    private sealed class Row : DataViewRow
    {
        private readonly SingleRowMapper parent;
        private readonly DataViewRow source;
        private readonly ModelInput.Reader? reader;
        private readonly SingleRowScorer.Slot? slot;
        private long scoredPosition = -1;

        public Row(SingleRowMapper parent, DataViewRow source, bool scores)
        {
            this.parent = parent;
            this.source = source;
            if (scores)
            {
                reader = parent.input.Open(source);
                slot = parent.scorer.NewSlot();
            }
        }

        public override DataViewSchema Schema => parent.OutputSchema;

        public override long Position => source.Position;

        public override long Batch => source.Batch;

        public override ValueGetter<DataViewRowId> GetIdGetter() => source.GetIdGetter();

        public override bool IsColumnActive(DataViewSchema.Column column) =>
            column.Index == parent.OutputIndex ? slot is not null : source.IsColumnActive(parent.InputSchema[column.Index]);

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            if (column.Index != parent.OutputIndex)
                return source.GetGetter<TValue>(parent.InputSchema[column.Index]);
            if (slot is null)
                throw new InvalidOperationException($"Column '{column.Name}' was not requested when the row was made.");
            if (typeof(TValue) != typeof(VBuffer<float>))
                throw new InvalidOperationException($"Column '{column.Name}' holds VBuffer<float>, not {typeof(TValue).Name}.");
            ValueGetter<VBuffer<float>> getter = (ref VBuffer<float> value) =>
            {
                Score();
                var editor = VBufferEditor.Create(ref value, slot.Output.Length);
                slot.Output.CopyTo(editor.Values);
                value = editor.Commit();
            };
            return (ValueGetter<TValue>)(Delegate)getter;
        }

        private void Score()
        {
            if (source.Position == scoredPosition)
                return;
            if (parent.disposed())
                throw new ObjectDisposedException(nameof(SingleRowMapper), "EfficientViT scoring: the transformer was disposed.");
            reader!.Fetch();
            reader.Write(source.Position, slot!.Input);
            slot.Run();
            scoredPosition = source.Position;
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                reader?.Dispose();
                slot?.Dispose();
            }
            base.Dispose(disposing);
        }
    }
}
