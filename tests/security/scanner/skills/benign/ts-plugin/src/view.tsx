export function Result(props: { readonly count: number }) {
  return <div className="result">{props.count} documents</div>;
}
