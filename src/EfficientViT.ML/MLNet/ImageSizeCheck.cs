using EfficientViT.ML.Data;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace EfficientViT.ML.MLNet;

/// <summary>
/// Refuses an <c>MLImage</c> of a column with more than <see cref="StraightAlphaDecoder.MaxPixels"/> pixels (the limit of
/// the library's own image reader) as it is read, naming the column, the image's size and the limit. In memory only,
/// in front of a featurizer's or classifier's chain; never saved. It cannot save the memory the image took: ML.NET's
/// <c>LoadImages</c> decodes an image whole before any step sees it.
/// </summary>
internal sealed class ImageSizeCheck(string columnName, long maxPixels, string component) : ITransformer
{
    public bool IsRowToRowMapper => true;

    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema) => inputSchema;

    public IDataView Transform(IDataView input) => Column(input.Schema) is { } column ? new CheckedView(input, column, this) : input;

    public IRowToRowMapper GetRowToRowMapper(DataViewSchema inputSchema) => new CheckedMapper(inputSchema, Column(inputSchema), this);

    void ICanSaveModel.Save(ModelSaveContext ctx) =>
        throw new NotSupportedException("The image size check is not saved; the chain it stands in front of is.");

    /// <summary>The error for an image of <paramref name="width"/>×<paramref name="height"/>, or null when it is within <paramref name="limit"/>.</summary>
    internal static string? Problem(string component, string column, int width, int height, long limit) =>
        (long)width * height <= limit ? null
            : $"{component}: column '{column}' holds a {width}x{height} image ({(long)width * height:N0} pixels), more than the {limit:N0} accepted; " +
              "check image sizes before ML.NET's LoadImages, which decodes the whole image first.";

    private int? Column(DataViewSchema schema) =>
        schema.GetColumnOrNull(columnName) is { Type: Microsoft.ML.Transforms.Image.ImageDataViewType } column ? column.Index : null;

    private ValueGetter<TValue> Checked<TValue>(ValueGetter<TValue> getter)
    {
        if (typeof(TValue) != typeof(MLImage))
            return getter;
        var images = (ValueGetter<MLImage>)(Delegate)getter;
        ValueGetter<MLImage> checkedImages = (ref MLImage image) =>
        {
            images(ref image);
            if (image is not null && Problem(component, columnName, image.Width, image.Height, maxPixels) is { } problem)
                throw new InvalidDataException(problem);
        };
        return (ValueGetter<TValue>)(Delegate)checkedImages;
    }

    private sealed class CheckedView(IDataView source, int column, ImageSizeCheck check) : IDataView
    {
        public bool CanShuffle => source.CanShuffle;

        public DataViewSchema Schema => source.Schema;

        public long? GetRowCount() => source.GetRowCount();

        public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null) =>
            new CheckedCursor(source.GetRowCursor(columnsNeeded, rand), column, check);

        public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null) =>
            [.. source.GetRowCursorSet(columnsNeeded, n, rand).Select(cursor => new CheckedCursor(cursor, column, check))];
    }

    private sealed class CheckedCursor(DataViewRowCursor source, int column, ImageSizeCheck check) : DataViewRowCursor
    {
        public override DataViewSchema Schema => source.Schema;

        public override long Position => source.Position;

        public override long Batch => source.Batch;

        public override bool MoveNext() => source.MoveNext();

        public override ValueGetter<DataViewRowId> GetIdGetter() => source.GetIdGetter();

        public override bool IsColumnActive(DataViewSchema.Column col) => source.IsColumnActive(col);

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column col) =>
            col.Index == column ? check.Checked(source.GetGetter<TValue>(col)) : source.GetGetter<TValue>(col);

        protected override void Dispose(bool disposing)
        {
            if (disposing)
                source.Dispose();
            base.Dispose(disposing);
        }
    }

    private sealed class CheckedMapper(DataViewSchema inputSchema, int? column, ImageSizeCheck check) : IRowToRowMapper
    {
        public DataViewSchema InputSchema => inputSchema;

        public DataViewSchema OutputSchema => inputSchema;

        public IEnumerable<DataViewSchema.Column> GetDependencies(IEnumerable<DataViewSchema.Column> dependingColumns) => dependingColumns;

        public DataViewRow GetRow(DataViewRow input, IEnumerable<DataViewSchema.Column> activeColumns) =>
            column is { } index ? new CheckedRow(input, index, check) : input;
    }

    private sealed class CheckedRow(DataViewRow source, int column, ImageSizeCheck check) : DataViewRow
    {
        public override DataViewSchema Schema => source.Schema;

        public override long Position => source.Position;

        public override long Batch => source.Batch;

        public override ValueGetter<DataViewRowId> GetIdGetter() => source.GetIdGetter();

        public override bool IsColumnActive(DataViewSchema.Column col) => source.IsColumnActive(col);

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column col) =>
            col.Index == column ? check.Checked(source.GetGetter<TValue>(col)) : source.GetGetter<TValue>(col);
    }
}
