using Microsoft.ML;
using Microsoft.ML.Data;

namespace EfficientViT.ML.Featurization;

/// <summary>
/// Adds a feature column to a data view by scoring its pixel column in batches. Each cursor opens a
/// second, look-ahead cursor over the pixel column only: it reads a batch of rows ahead, scores them in
/// one ONNX Runtime call, and hands out the results as the main cursor reaches those rows. Both cursors
/// see the rows in the same order because neither shuffles.
/// </summary>
internal sealed class BatchedFeaturesDataView : IDataView
{
    private readonly IDataView source;
    private readonly DataViewSchema.Column pixelColumn;
    private readonly OnnxFeatureSession session;
    private readonly int batchSize;
    private readonly string userInputColumn;

    // featureType is the column type ML.NET's own ONNX scoring declares, so that both paths agree.
    public BatchedFeaturesDataView(IDataView source, string pixelColumnName, string outputColumnName, DataViewType featureType, OnnxFeatureSession session, int batchSize, string userInputColumn)
    {
        this.source = source;
        pixelColumn = source.Schema[pixelColumnName];
        this.session = session;
        this.batchSize = batchSize;
        this.userInputColumn = userInputColumn;
        var builder = new DataViewSchema.Builder();
        builder.AddColumns(source.Schema);
        builder.AddColumn(outputColumnName, featureType);
        Schema = builder.ToSchema();
    }

    public DataViewSchema Schema { get; }

    public bool CanShuffle => false;

    public long? GetRowCount() => source.GetRowCount();

    private int FeatureColumnIndex => Schema.Count - 1;

    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null)
    {
        var needed = columnsNeeded.ToList();
        var sourceColumns = needed.Where(c => c.Index < source.Schema.Count).Select(c => source.Schema[c.Index]).ToList();
        var wantsFeatures = needed.Any(c => c.Index == FeatureColumnIndex);
        var main = source.GetRowCursor(sourceColumns);
        // A set of one is a plain serial cursor (GetRowCursor may read ahead on worker threads), so a
        // bad image fails at its own row and the error can name it.
        var lookAhead = wantsFeatures ? source.GetRowCursorSet([pixelColumn], 1)[0] : null;
        return new Cursor(this, main, lookAhead);
    }

    // One cursor: the batches must be handed out in row order.
    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null) =>
        [GetRowCursor(columnsNeeded, rand)];

    private sealed class Cursor : DataViewRowCursor
    {
        private readonly BatchedFeaturesDataView parent;
        private readonly DataViewRowCursor main;
        private readonly DataViewRowCursor? lookAhead;
        private readonly ValueGetter<VBuffer<float>>? pixelGetter;
        private readonly float[] inputs;
        private readonly float[] features;
        private VBuffer<float> pixels;
        private int batchCount;
        private int batchIndex;
        private long position = -1;

        public Cursor(BatchedFeaturesDataView parent, DataViewRowCursor main, DataViewRowCursor? lookAhead)
        {
            this.parent = parent;
            this.main = main;
            this.lookAhead = lookAhead;
            if (lookAhead is not null)
            {
                pixelGetter = lookAhead.GetGetter<VBuffer<float>>(parent.pixelColumn);
                inputs = new float[parent.batchSize * parent.session.InputSize];
                features = new float[parent.batchSize * parent.session.FeatureSize];
            }
            else
            {
                inputs = features = [];
            }
        }

        public override DataViewSchema Schema => parent.Schema;

        public override long Position => position;

        public override long Batch => 0;

        public override bool IsColumnActive(DataViewSchema.Column column) =>
            column.Index == parent.FeatureColumnIndex ? lookAhead is not null : main.IsColumnActive(parent.source.Schema[column.Index]);

        public override ValueGetter<DataViewRowId> GetIdGetter() => main.GetIdGetter();

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            if (column.Index != parent.FeatureColumnIndex)
                return main.GetGetter<TValue>(parent.source.Schema[column.Index]);
            if (lookAhead is null)
                throw new InvalidOperationException($"Column '{column.Name}' was not requested when the cursor was created.");
            if (typeof(TValue) != typeof(VBuffer<float>))
                throw new InvalidOperationException($"Column '{column.Name}' holds VBuffer<float>, not {typeof(TValue).Name}.");
            ValueGetter<VBuffer<float>> getter = (ref VBuffer<float> value) =>
            {
                var size = parent.session.FeatureSize;
                var editor = VBufferEditor.Create(ref value, size);
                features.AsSpan((batchIndex - 1) * size, size).CopyTo(editor.Values);
                value = editor.Commit();
            };
            return (ValueGetter<TValue>)(Delegate)getter;
        }

        public override bool MoveNext()
        {
            if (!main.MoveNext())
                return false;
            position++;
            if (lookAhead is not null)
            {
                if (batchIndex == batchCount)
                    ScoreNextBatch();
                batchIndex++;
            }
            return true;
        }

        private void ScoreNextBatch()
        {
            var inputSize = parent.session.InputSize;
            batchCount = 0;
            batchIndex = 0;
            while (batchCount < parent.batchSize && TryReadPixels(position + batchCount))
            {
                var row = position + batchCount;
                if (pixels.Length != inputSize)
                    throw new InvalidOperationException($"EfficientVitFeaturize: row {row} of column '{parent.userInputColumn}' has {pixels.Length} values; the model takes {inputSize} (3 x {(int)Math.Sqrt(inputSize / 3)} x {(int)Math.Sqrt(inputSize / 3)}).");
                pixels.CopyTo(inputs.AsSpan(batchCount * inputSize, inputSize));
                batchCount++;
            }
            if (batchCount == 0)
                throw new InvalidOperationException("EfficientVitFeaturize: the data view returned fewer rows to the feature cursor than to the main cursor; it must not change between reads.");
            parent.session.Run(inputs, batchCount, features);
        }

            private bool TryReadPixels(long row)
        {
            try
            {
                if (!lookAhead!.MoveNext())
                    return false;
                pixelGetter!(ref pixels);
                return true;
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                throw new InvalidOperationException($"EfficientVitFeaturize: could not read the image of row {row} (column '{parent.userInputColumn}'): {Cause(e).Message}", e);
            }
        }

        // ML.NET wraps errors from its worker threads in a generic message; report the first real one.
        private static Exception Cause(Exception e) =>
            e.InnerException is not null && e.Message.StartsWith("Splitter/consolidator", StringComparison.Ordinal) ? Cause(e.InnerException) : e;

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                main.Dispose();
                lookAhead?.Dispose();
            }
            base.Dispose(disposing);
        }
    }
}
