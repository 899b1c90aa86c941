//! The items of a list operation across its pages: what the generated
//! `into_items()` of an operation marked `x-paging` returns.
//!
//! Each page is one ordinary call of the operation, so retries, the retry
//! budget, timeouts and the mock apply to each page as to any call. Only one
//! page is held at a time. The next page is asked for with the same request
//! and another offset: the offset the answer's `next` link names (the link
//! itself is never followed, so nothing goes to a host other than the
//! configured one), or, for APIs without links, the offset after the items
//! read so far.

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::pin::Pin;

use crate::error::{Error, ErrorKind, ResponseDetails};

/// How an answer says whether another page follows.
#[doc(hidden)]
pub enum Next {
    /// A link to the next page, `None` on the last one.
    Link(Option<String>),
    /// No link: another page follows while pages come back full.
    Offsets,
}

/// One page as the generated code hands it over.
#[doc(hidden)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Next,
}

type PageFuture<'a, T, E> = Pin<Box<dyn Future<Output = Result<Page<T>, Error<E>>> + Send + 'a>>;
type Fetch<'a, T, E> = Box<dyn FnMut(i64) -> PageFuture<'a, T, E> + Send + 'a>;

/// The items of a paged list operation, one page fetched at a time, in the
/// manner of a stream: `while let Some(item) = items.next().await { .. }`.
///
/// - Each page is one call of the operation with the request as built
///   (its filters and `size`) and the offset of that page; retries and the
///   retry budget apply per page.
/// - A page holding more items than the requested `size` is refused as a
///   decode error rather than trusted, so memory stays bounded by one page.
/// - An error ends the items: [`next`](Self::next) returns it once, then
///   `None`. The items before it were all returned; [`offset`](Self::offset)
///   says where to start again.
pub struct Paginator<'a, T, E> {
    operation: &'static str,
    offset_param: &'static str,
    fetch: Fetch<'a, T, E>,
    size: Option<i64>,
    /// The offset of the next page to fetch; `None` when there is none.
    next_offset: Option<i64>,
    /// The offset of the first item in `buffered`.
    offset: i64,
    buffered: VecDeque<T>,
    pages: u64,
    /// An answer whose items were returned but that leads nowhere valid:
    /// the error the next fetch returns.
    pending: Option<Error<E>>,
}

impl<'a, T, E> Paginator<'a, T, E> {
    /// For the generated code: the items of `operation` from offset
    /// `first`, in pages of `size` items (the API's default when `None`),
    /// fetched by `fetch(offset)`; `offset_param` is the query parameter a
    /// `next` link carries the offset in.
    #[doc(hidden)]
    pub fn new(
        operation: &'static str,
        offset_param: &'static str,
        first: i64,
        size: Option<i64>,
        fetch: impl FnMut(i64) -> PageFuture<'a, T, E> + Send + 'a,
    ) -> Self {
        Paginator {
            operation,
            offset_param,
            fetch: Box::new(fetch),
            size,
            next_offset: Some(first),
            offset: first,
            buffered: VecDeque::new(),
            pages: 0,
            pending: None,
        }
    }

    /// The next item, fetching the next page when the current one is used
    /// up; `None` after the last item or after an error.
    pub async fn next(&mut self) -> Option<Result<T, Error<E>>> {
        loop {
            if let Some(item) = self.buffered.pop_front() {
                self.offset += 1;
                return Some(Ok(item));
            }
            match self.fetch_page().await? {
                Ok(items) => self.buffered = items.into(),
                Err(error) => return Some(Err(error)),
            }
        }
    }

    /// The items of the next page, all at once; `None` after the last page
    /// or after an error. Items [`next`](Self::next) has not returned yet
    /// come first.
    pub async fn next_page(&mut self) -> Option<Result<Vec<T>, Error<E>>> {
        let items = if self.buffered.is_empty() {
            self.fetch_page().await?
        } else {
            Ok(self.buffered.drain(..).collect())
        };
        if let Ok(items) = &items {
            self.offset += items.len() as i64;
        }
        Some(items)
    }

    /// Fetches the next page; [`offset`](Self::offset) is then its first
    /// item's.
    async fn fetch_page(&mut self) -> Option<Result<Vec<T>, Error<E>>> {
        if let Some(error) = self.pending.take() {
            return Some(Err(error));
        }
        let offset = self.next_offset.take()?;
        self.offset = offset;
        let page = match (self.fetch)(offset).await {
            Ok(page) => page,
            Err(error) => return Some(Err(error)),
        };
        self.pages += 1;
        let count = page.items.len() as i64;
        if let Some(size) = self.size.filter(|&size| count > size) {
            return Some(Err(self.refuse(format!(
                "a page of {count} items came back for a page size of {size}"
            ))));
        }
        // An empty page ends the listing whatever it links to: a link from
        // it could only lead back to where it is.
        let next = match page.next {
            _ if count == 0 => None,
            Next::Link(None) => None,
            Next::Link(Some(link)) => {
                let next = query_value(&link, self.offset_param)
                    .map(|value| value.parse::<i64>().ok())
                    .unwrap_or(Some(offset + count));
                match next {
                    Some(next) if next > offset => Some(next),
                    // This page's items are good; the error comes after them.
                    _ => {
                        let error = self.refuse(format!(
                            "the next page's link `{link}` does not lead past offset {offset}"
                        ));
                        self.pending = Some(error);
                        None
                    }
                }
            }
            Next::Offsets => match self.size {
                Some(size) if count < size => None,
                _ => Some(offset + count),
            },
        };
        self.next_offset = next;
        self.offset = offset;
        Some(Ok(page.items))
    }

    /// The offset of the next item [`next`](Self::next) returns (or the
    /// offset to start again from after an error).
    pub fn offset(&self) -> i64 {
        self.offset
    }

    /// Pages fetched so far.
    pub fn pages_fetched(&self) -> u64 {
        self.pages
    }

    /// An answer that cannot be paged on: a decode error, ending the items.
    fn refuse(&mut self, message: String) -> Error<E> {
        self.next_offset = None;
        Error::new(
            self.operation,
            ErrorKind::Decode {
                details: ResponseDetails {
                    status: 200,
                    ..ResponseDetails::default()
                },
                message,
            },
        )
    }
}

impl<T, E> fmt::Debug for Paginator<'_, T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Paginator")
            .field("operation", &self.operation)
            .field("offset", &self.offset)
            .field("size", &self.size)
            .field("pages_fetched", &self.pages)
            .field(
                "done",
                &(self.next_offset.is_none() && self.buffered.is_empty()),
            )
            .finish()
    }
}

/// The value of query parameter `name` in `link`, undecoded (offsets are
/// digits); `None` when the link has no such parameter.
fn query_value<'l>(link: &'l str, name: &str) -> Option<&'l str> {
    let query = link.split_once('?')?.1;
    let query = query.split('#').next().unwrap_or_default();
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

#[cfg(test)]
mod tests {
    use super::*;

    type Answers = Vec<Result<(Vec<i64>, Next), &'static str>>;

    /// A paginator over scripted pages; it records the offsets asked for.
    fn scripted(
        size: Option<i64>,
        answers: Answers,
    ) -> (
        Paginator<'static, i64, ()>,
        std::sync::Arc<std::sync::Mutex<Vec<i64>>>,
    ) {
        let asked = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let log = asked.clone();
        let mut answers: VecDeque<_> = answers.into();
        let paginator = Paginator::new("list_things", "offset", 0, size, move |offset| {
            log.lock().unwrap().push(offset);
            let answer = answers.pop_front().expect("no more pages scripted");
            Box::pin(async move {
                match answer {
                    Ok((items, next)) => Ok(Page { items, next }),
                    Err(message) => Err(Error::new(
                        "list_things",
                        ErrorKind::Decode {
                            details: ResponseDetails::default(),
                            message: message.to_owned(),
                        },
                    )),
                }
            })
        });
        (paginator, asked)
    }

    fn link(offset: i64) -> Next {
        Next::Link(Some(format!(
            "https://api.klarna.com/x?size=2&offset={offset}"
        )))
    }

    async fn drain(paginator: &mut Paginator<'static, i64, ()>) -> (Vec<i64>, Option<String>) {
        let mut items = Vec::new();
        for _ in 0..100 {
            match paginator.next().await {
                Some(Ok(item)) => items.push(item),
                Some(Err(error)) => return (items, Some(error.to_string())),
                None => return (items, None),
            }
        }
        panic!("more than 100 items");
    }

    #[tokio::test]
    async fn follows_the_next_links_offsets_to_the_end() {
        let (mut paginator, asked) = scripted(
            Some(2),
            vec![
                Ok((vec![1, 2], link(2))),
                Ok((vec![3, 4], link(4))),
                Ok((vec![5], Next::Link(None))),
            ],
        );
        assert_eq!(drain(&mut paginator).await, (vec![1, 2, 3, 4, 5], None));
        assert_eq!(*asked.lock().unwrap(), vec![0, 2, 4]);
        assert_eq!(paginator.pages_fetched(), 3);
        assert!(paginator.next().await.is_none());
    }

    #[tokio::test]
    async fn without_links_pages_continue_while_full() {
        let (mut paginator, asked) = scripted(
            Some(2),
            vec![
                Ok((vec![1, 2], Next::Offsets)),
                Ok((vec![3], Next::Offsets)),
            ],
        );
        assert_eq!(drain(&mut paginator).await, (vec![1, 2, 3], None));
        assert_eq!(*asked.lock().unwrap(), vec![0, 2]);
    }

    #[tokio::test]
    async fn an_error_ends_the_items_after_those_already_read() {
        let (mut paginator, _) = scripted(
            Some(2),
            vec![Ok((vec![1, 2], link(2))), Err("page two broke")],
        );
        let (items, error) = drain(&mut paginator).await;
        assert_eq!(items, vec![1, 2]);
        assert!(error.unwrap().contains("page two broke"));
        assert_eq!(paginator.offset(), 2, "where to start again");
        assert!(paginator.next().await.is_none());
    }

    #[tokio::test]
    async fn an_oversized_page_or_a_link_that_goes_back_is_refused() {
        let (mut paginator, _) = scripted(Some(2), vec![Ok((vec![1, 2, 3], link(3)))]);
        let (items, error) = drain(&mut paginator).await;
        assert!(items.is_empty());
        assert!(error.unwrap().contains("3 items"));

        let (mut paginator, _) = scripted(
            Some(2),
            vec![Ok((vec![1, 2], link(2))), Ok((vec![3, 4], link(0)))],
        );
        let (items, error) = drain(&mut paginator).await;
        assert_eq!(items, vec![1, 2, 3, 4]);
        assert!(error.unwrap().contains("does not lead past"));
    }

    #[tokio::test]
    async fn an_empty_page_ends_the_items_whatever_it_links_to() {
        let (mut paginator, asked) = scripted(Some(2), vec![Ok((vec![], link(2)))]);
        assert_eq!(drain(&mut paginator).await, (vec![], None));
        assert_eq!(asked.lock().unwrap().len(), 1);
    }

    #[test]
    fn query_values() {
        assert_eq!(
            query_value("https://h/p?offset=4&size=2", "offset"),
            Some("4")
        );
        assert_eq!(
            query_value("https://h/p?size=2&offset=10#x", "offset"),
            Some("10")
        );
        assert_eq!(query_value("https://h/p?size=2", "offset"), None);
        assert_eq!(query_value("https://h/p", "offset"), None);
    }
}
