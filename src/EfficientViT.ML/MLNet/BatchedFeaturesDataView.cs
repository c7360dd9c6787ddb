using System.Buffers;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace EfficientViT.ML.MLNet;

/// <summary>
/// Adds a feature column to a data view by scoring its input column in batches. Each cursor opens a
/// second, look-ahead cursor over the input column only: it reads a batch of rows ahead, scores them in
/// one ONNX Runtime call, and hands out the results as the main cursor reaches those rows. Both cursors
/// see the rows in the same order because neither shuffles.
/// </summary>
/// <remarks>
/// While the main cursor serves one batch, the scorer works on as many later batches as it runs at once
/// (<see cref="IFeatureScorer.Concurrency"/>, one per core for ONNX Runtime), and this thread reads the
/// one after them.
/// </remarks>
internal sealed class BatchedFeaturesDataView : IDataView
{
    private readonly IDataView source;
    private readonly ModelInput input;
    private readonly DataViewSchema.Column inputColumn;
    private readonly IFeatureScorer session;
    private readonly ScoringThreads threads;
    private readonly int batchSize;

    // featureType is the column type ML.NET's own ONNX scoring declares, so that both paths agree.
    public BatchedFeaturesDataView(IDataView source, ModelInput input, string outputColumnName, DataViewType featureType, IFeatureScorer session, ScoringThreads threads, int batchSize)
    {
        this.source = source;
        this.input = input;
        inputColumn = source.Schema[input.ColumnName];
        this.session = session;
        this.threads = threads;
        this.batchSize = batchSize;
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
        var lookAhead = wantsFeatures ? source.GetRowCursorSet([inputColumn], 1)[0] : null;
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
        private readonly ModelInput.Reader? reader;
        private long position = -1;
        private long rowsRead;

        // The batch being served, the later ones being scored (oldest first), and buffers to reuse.
        private Batch? current;
        private readonly Queue<Batch> scoring = new();
        private readonly Stack<Batch> free = new();
        private readonly int depth;
        private bool readAll;
        private int batchIndex;

        public Cursor(BatchedFeaturesDataView parent, DataViewRowCursor main, DataViewRowCursor? lookAhead)
        {
            this.parent = parent;
            this.main = main;
            this.lookAhead = lookAhead;
            depth = parent.session.Concurrency;
            if (lookAhead is not null)
                reader = parent.input.Open(lookAhead);
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
                current!.Features.AsSpan((batchIndex - 1) * size, size).CopyTo(editor.Values);
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
                if (current is null || batchIndex == current.Count)
                    AdvanceBatch();
                batchIndex++;
            }
            return true;
        }

        private void AdvanceBatch()
        {
            // The row after the last one served could not be read.
            if (current?.Error is { } error)
                throw error;
            if (current is not null)
                free.Push(current);
            ReadAhead();
            current = scoring.Count > 0 ? scoring.Dequeue() : null;
            // Read the following batches while this one and the ones after it are scored.
            ReadAhead();
            current?.Finish();
            if (current is null || current.Count == 0)
                throw current?.Error ?? new InvalidOperationException("EfficientVitFeaturize: the data view returned fewer rows to the feature cursor than to the main cursor; it must not change between reads.");
            batchIndex = 0;
        }

        // Reads batches and starts scoring them until `depth` are being scored, the rows run out, or a row
        // cannot be read (the batch ends before it, and nothing after it is read).
        private void ReadAhead()
        {
            while (!readAll && scoring.Count < depth)
            {
                var batch = free.Count > 0 ? free.Pop() : new Batch(parent.batchSize, parent.session);
                batch.Reset();
                Read(batch);
                readAll = batch.Count < parent.batchSize || batch.Error is not null;
                batch.Start(parent.session, parent.threads);
                scoring.Enqueue(batch);
            }
        }

        // Fills the batch from the look-ahead cursor. An unreadable row ends the batch; its error is kept
        // and raised when the main cursor reaches that row, so the rows before it are still served.
        private void Read(Batch batch)
        {
            var inputSize = parent.session.InputSize;
            try
            {
                while (batch.Count < parent.batchSize && TryFetch(rowsRead))
                {
                    reader!.Write(rowsRead, batch.Inputs.AsSpan(batch.Count * inputSize, inputSize));
                    batch.Count++;
                    rowsRead++;
                }
            }
            catch (InvalidOperationException e)
            {
                batch.Error = e;
            }
        }

        private bool TryFetch(long row)
        {
            try
            {
                if (!lookAhead!.MoveNext())
                    return false;
                reader!.Fetch();
                return true;
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                throw new InvalidOperationException($"EfficientVitFeaturize: could not read the image of row {row} (column '{parent.input.UserColumn}'): {Cause(e).Message}{ImageReadHints.For(Cause(e))}", e);
            }
        }

        // ML.NET wraps errors from its worker threads in a generic message; report the first real one.
        private static Exception Cause(Exception e) =>
            e.InnerException is not null && e.Message.StartsWith("Splitter/consolidator", StringComparison.Ordinal) ? Cause(e.InnerException) : e;

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                // A batch still being scored writes into buffers this cursor owns: let it finish first.
                foreach (var batch in scoring)
                    batch.Wait();
                foreach (var batch in scoring.Concat(free).Append(current))
                    batch?.Return();
                scoring.Clear();
                free.Clear();
                current = null;
                main.Dispose();
                reader?.Dispose();
                lookAhead?.Dispose();
            }
            base.Dispose(disposing);
        }
    }

    /// <summary>One batch's buffers and the ONNX Runtime call scoring it.</summary>
    /// <remarks>
    /// The buffers are rented: a cursor over a few rows (a service scoring a handful of requests per
    /// Transform) would otherwise allocate and clear megabytes on the large object heap each time.
    /// </remarks>
    private sealed class Batch(int capacity, IFeatureScorer session)
    {
        public float[] Inputs { get; private set; } = ArrayPool<float>.Shared.Rent(capacity * session.InputSize);

        public float[] Features { get; private set; } = ArrayPool<float>.Shared.Rent(capacity * session.FeatureSize);

        public int Count { get; set; }

        public Task? Scoring { get; private set; }

        /// <summary>A row after the last one read could not be read; raised when this batch is reached.</summary>
        public InvalidOperationException? Error { get; set; }

        public void Reset()
        {
            Count = 0;
            Scoring = null;
            Error = null;
        }

        public void Start(IFeatureScorer session, ScoringThreads threads)
        {
            if (Count > 0)
                Scoring = threads.Run(() => session.Run(Inputs, Count, Features));
        }

        public void Finish()
        {
            Scoring?.GetAwaiter().GetResult();
            Scoring = null;
        }

        /// <summary>Gives the buffers back to the pool; the batch must not be scoring.</summary>
        public void Return()
        {
            ArrayPool<float>.Shared.Return(Inputs);
            ArrayPool<float>.Shared.Return(Features);
            Inputs = Features = [];
        }

        /// <summary>Waits for the scoring to end, ignoring its outcome (the cursor is closing).</summary>
        public void Wait()
        {
            try
            {
                Scoring?.Wait();
            }
            catch (AggregateException)
            {
            }
        }
    }
}
